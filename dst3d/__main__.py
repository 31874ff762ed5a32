from .cli import main

if __name__ == "__main__":  # spawned worker processes re-import this module: don't rerun the CLI there
    main()
