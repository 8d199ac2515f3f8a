"""pysynth: synthesize AWS automation from CloudTrail logs with answer set programming."""

__version__ = "0.1.0"
