"""``python -m edgefer.cli``: the ``edgefer`` command, as the tests and benchmark scripts run it."""

from edgefer.cli import main

if __name__ == "__main__":
    main()
