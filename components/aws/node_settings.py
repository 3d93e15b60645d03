"""Node operating-system settings for GPU nodes, rendered as user data for each supported AMI family.

- RI-10: `init_on_alloc=1 init_on_free=1` zero memory on allocation and free (both kernels ship them off).
- RI-09: `kernel.yama.ptrace_scope=2`: only root-capable processes may attach to others.
- RI-06/RI-07: the NVIDIA container runtime refuses device selection by environment variable from unprivileged
  containers and injects devices by volume mounts (or CDI); the CUDA compat-lib hook stays disabled.
- RI-11: no admin or control host container (Bottlerocket), so there is no shell on the node.
Sources: Bottlerocket settings reference; NVIDIA container toolkit config (see the project's hardening reference).
"""

from __future__ import annotations

import base64

BOTTLEROCKET_SETTINGS = """\
[settings.boot]
reboot-to-reconcile = true

[settings.boot.kernel-parameters]
"init_on_alloc" = ["1"]
"init_on_free" = ["1"]

[settings.kernel.sysctl]
"kernel.yama.ptrace_scope" = "2"

[settings.nvidia-container-runtime]
visible-devices-envvar-when-unprivileged = false
visible-devices-as-volume-mounts = true

[settings.kubelet-device-plugins.nvidia]
device-list-strategy = "volume-mounts"
device-id-strategy = "uuid"

[settings.host-containers.admin]
enabled = false

[settings.host-containers.control]
enabled = false
"""

# AL2023: nodeadm reads the NodeConfig part; the shell part hardens the kernel and the NVIDIA toolkit.
# (The grubby/nvidia-ctk steps follow the vendors' documentation; boot arguments need the reboot at the end, and
# baking them into a custom AMI avoids it.)
AL2023_SCRIPT = """\
#!/bin/bash
set -euo pipefail
grubby --update-kernel=ALL --args="init_on_alloc=1 init_on_free=1"
echo 'kernel.yama.ptrace_scope = 2' > /etc/sysctl.d/90-modelfort.conf
sysctl --system
nvidia-ctk config --in-place --set accept-nvidia-visible-devices-envvar-when-unprivileged=false
nvidia-ctk config --in-place --set accept-nvidia-visible-devices-as-volume-mounts=true
nvidia-ctk config --in-place --set features.disable-cuda-compat-lib-hook=true
if ! grep -q 'init_on_free=1' /proc/cmdline; then systemctl reboot; fi
"""

BOUNDARY = "MODELFORT-BOUNDARY"


def bottlerocket_user_data() -> str:
    return base64.b64encode(BOTTLEROCKET_SETTINGS.encode()).decode()


def al2023_user_data() -> str:
    document = (
        f'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="{BOUNDARY}"\n\n'
        f"--{BOUNDARY}\nContent-Type: text/x-shellscript; charset=\"us-ascii\"\n\n{AL2023_SCRIPT}\n"
        f"--{BOUNDARY}--\n"
    )
    return base64.b64encode(document.encode()).decode()
