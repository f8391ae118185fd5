"""What the mailbox core announces, for the parts above it to act on.

The mailbox (mailbox.py) sits below the mail Sealbox sends: it says what
happened and does not call up. A receiver runs in the sender's transaction, so
what it queues commits or rolls back with the change that caused it.
"""

from django.dispatch import Signal

# A message was stored in its owner's inbox. Sent inside the storing
# transaction, once per copy, with `message` (a Message, its owner loaded).
delivered = Signal()
