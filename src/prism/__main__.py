"""`python -m prism`: the same as the `prism` command."""

from prism.serve.cli import main

main()
