"""`python -m bot.cli`: the `intake311` command."""

from bot.cli import main

main()
