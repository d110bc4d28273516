"""`python -m edgecolor`: the same CLI as the `edgecolor` console script."""

from edgecolor.cli import main

if __name__ == "__main__":
    main()
