"""Webhooks: a project's endpoints hear of its codes being created, claimed and deleted.

- ``events``: the event rows, written in the transaction of the change (a transactional outbox);
- ``endpoints``: registering, listing, removing, rotating and enabling endpoints; the delivery log
  and manual retries;
- ``urls``: which URLs may be called (https, no private addresses: checked again at delivery);
- ``signing``: Standard Webhooks signatures; ``payloads``: what receivers get;
- ``outbox``, ``sender``, ``worker``: fanning events out to endpoints and POSTing them, with
  retries for about three days.

This package imports nothing from ``shared.codes``, which writes its events through ``events``.
"""
