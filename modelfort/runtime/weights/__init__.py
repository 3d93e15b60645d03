"""Model-weight signing and the fail-closed startup verifier (controls WP-05, WP-06, ST-01, ST-07, OB-04).

The release pipeline signs a model directory with `modelfort sign` (an OpenSSF Model Signing bundle made by the
`model-signing` library, with a local EC key or through AWS KMS or Google Cloud KMS), stores the signature in the
reference store (S3 or Google Cloud Storage) and pins the signed root digest in the stack config. At startup an init
container runs `modelfort verify-weights`, which refuses to let the model server start unless the weights on disk are
exactly the signed ones and the signed root digest is the pinned one. See `docs/release-flow.md`.

Modules:
- `reasons`: every way a run can fail, each with its own exit code.
- `hashing_policy`: the one strict hashing configuration used for both signing and verifying.
- `model_tree`: walks a model directory without following links and refuses anything but files and directories.
- `signing`: produce signatures (local key, or a KMS: `--kms-key` says which); `remote_signer`: the bundle and
  checks every KMS signer shares; `kms_signer` (AWS KMS); `cloud_kms_signer`, `cloud_kms_clients` (Cloud KMS).
- `verify`: authenticate a signature, pin its root digest, and compare the model tree with it.
- `object_stores`: which store a location is in (`s3://`, `gs://` or a local path) and one store per cloud per run.
- `object_paths`: the store-neutral rules: object names to safe local paths, the download directory.
- `s3_source`, `aws_clients`: S3 as reference store and model bucket (download, upload, error classification).
- `gcs_source`, `gcs_clients`: the same for Google Cloud Storage.
- `startup`: one `verify-weights` run end to end, and its structured log line.
- `cli`: argparse wiring only.

This package's `__init__` imports nothing heavy, so `modelfort --help` stays fast.
"""
