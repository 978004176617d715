"""``python -m helpers.local.momento --grpc-port P --http-port Q --api-key-file F [--log-file L]``."""

import sys

from .server import main

sys.exit(main())
