"""Real residents' texts played through the conversation engine (see README.md)."""
