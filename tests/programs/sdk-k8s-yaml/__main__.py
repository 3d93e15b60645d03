"""Kubernetes objects reach the stack through YAML, kustomize and Helm; `sdk-k8s-yaml:privileged` chooses whether
the inline YAML declares a privileged pod (v1 and v2 ConfigGroups), so the gate must see inside both."""

import pulumi
import pulumi_kubernetes as k8s

config = pulumi.Config()
privileged = config.get_bool("privileged") or False


def pod(name: str) -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
  namespace: apps
spec:
  containers:
    - name: main
      image: registry.example.com/app@sha256:{"a" * 64}
      securityContext:
        privileged: {"true" if privileged else "false"}
"""


k8s.yaml.ConfigFile("v1-file", file="manifests/config.yaml")
k8s.yaml.ConfigGroup("v1-inline", yaml=[pod("v1-pod")])
k8s.yaml.v2.ConfigGroup("v2-group", yaml=pod("v2-pod"), files=["manifests/v2-*.yaml"])
k8s.kustomize.Directory("kustomized", directory="kustomize")
k8s.helm.v3.Chart("v3-chart", k8s.helm.v3.ChartOpts(chart="ingress-nginx", version="4.11.0",
                                                    fetch_opts=k8s.helm.v3.FetchOpts(repo="https://kubernetes.github.io/ingress-nginx")))
k8s.helm.v4.Chart("v4-chart", chart="oci://registry.example.com/charts/app", version="1.0.0")
