import sys

from wecl.cli import main

sys.exit(main())
