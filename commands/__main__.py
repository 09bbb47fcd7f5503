"""``python -m riskclass.commands``: the command line."""

from ._cli import program

program()
