"""What the exchange does, independent of how it is asked (portal, API, CLI or worker).

Blueprints and tasks stay thin: they parse a request or a message and call an action here.
"""
