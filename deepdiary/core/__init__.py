"""What every layer shares and nothing else: settings, typed errors, and one parser per kind of input.

Nothing here imports another ``deepdiary`` package, and nothing here reads the
environment except ``Settings`` itself when a service builds it.
"""
