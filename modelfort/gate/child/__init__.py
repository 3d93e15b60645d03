"""What runs inside the program's own interpreter: the mock monitor, the mocks and the runner.

The program's virtualenv has `pulumi` (and so grpc, protobuf and PyYAML) but not ModelFort, so the modules here
import only the standard library, `pulumi`, `grpc`, `google.protobuf` and `yaml`, and each other only relatively.
The gate runs them as `python -m _modelfort_gate_child.program_runner JOB RESULT` through an alias of this directory.
"""
