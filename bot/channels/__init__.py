"""Channel adapters: each translates its platform's updates into Incoming and Replies back."""
