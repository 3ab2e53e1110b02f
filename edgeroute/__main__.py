"""``python -m edgeroute`` runs the same CLI as the ``edgeroute`` console script."""

from edgeroute.cli.main import main

if __name__ == "__main__":
    main()
