"""``python -m jtrader.gateways.sim --config FILE``: run the simulated venue until SIGTERM (see server.py)."""

from jtrader.gateways.sim.server import main

raise SystemExit(main())
