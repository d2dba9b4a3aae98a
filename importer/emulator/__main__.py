import sys

from importer.emulator.cli import main

raise SystemExit(main(sys.argv[1:]))
