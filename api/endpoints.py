"""The endpoints that other modules single out (rate limits, CORS), named once.

Flask names an endpoint ``<blueprint>.<view class>``; tests/api/test_app.py checks each exists.
"""

CLAIM = "codes.ClaimCode"
GENERATE = "codes.Generate"
SEND = "codes.Send"
