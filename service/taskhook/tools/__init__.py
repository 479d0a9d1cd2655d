"""Commands for the people who run taskhook: send test events, watch, inspect, replay, provision."""
