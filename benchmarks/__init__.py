"""`make bench`: performance goals measured as ratios against baselines run side by side (never in `make test`)."""
