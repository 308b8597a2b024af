"""defdip: a system-dynamics model of Iran-Russia defense diplomacy, 2010-2035."""

__version__ = "0.1.0"
