"""Real servers on loopback for the second pass (`make test-servers`) and for the tests of
each server backend. Each module has ``running(folder) -> Iterator[dict[str, str]]``, a
context manager that starts its server in ``folder``, yields the DEEPDIARY_* variables that
point a library at it, and stops it (killed, never left running) on the way out."""
