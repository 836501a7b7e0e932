"""Size bounds shared by modules that must not import each other (the CLI's input reader loads no HTTP
stack): one place to change them."""

# The largest JSON document the connector reads: a service's answer (lib/http/transport.py) or an input or
# config given as a file or on standard input (lib/cli/user_json.py).
MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
