"""The application around the conversations: configuration, channels, workers, command line."""
