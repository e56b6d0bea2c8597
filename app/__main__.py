"""`python -m app` runs the `timbrel` command line."""
import sys

from app.cli import main

sys.exit(main())
