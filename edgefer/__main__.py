"""``python -m edgefer``: the same CLI as the ``edgefer`` script.

It is for machines where only the source tree is on ``PYTHONPATH`` (a lent GPU box, a Jetson before
``pip install``).
"""

from edgefer.cli import main

main()
