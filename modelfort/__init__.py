"""ModelFort: the offline policy gate, the command line, and the code that runs inside deployed zones."""

__version__ = "0.1.0"
