"""The conversations, written once for every channel. Nothing here imports a platform library."""
