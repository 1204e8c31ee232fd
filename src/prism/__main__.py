"""`python -m prism`: the same as the `prism` command."""

from prism.serve.entry import main

main()
