"""``python -m mlrecipes.cli``: the same as the ``mlrecipes`` console script."""

from mlrecipes.cli.main import main

main()
