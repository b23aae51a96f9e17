"""Allow ``python -m wsep_cli`` to behave exactly like the ``wsep`` console script."""

from wsep_cli.cli.launch import main

if __name__ == "__main__":
    main()
