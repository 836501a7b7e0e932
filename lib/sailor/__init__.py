"""A Python runner for the elastic.io "sailor" protocol: the connector as a step inside the platform.

The platform starts the component's container with `ELASTICIO_*` environment variables and talks to it
over AMQP, as its Node.js and Java sailor libraries do:

- `step.py`: consume step messages from `ELASTICIO_LISTEN_MESSAGES_ON`, decrypt them, run the action
  named by `ELASTICIO_FUNCTION` through `jobs_connector.runtime.process`, publish each data message, error,
  rebound and snapshot to the `ELASTICIO_PUBLISH_MESSAGES_TO` exchange with the platform's routing keys
  and headers, and acknowledge the message only once its results are confirmed by the broker;
- `service.py`: the calls the platform makes outside a flow run (`verifyCredentials`, `getMetaModel`,
  `selectModel`), answered by POSTing to `ELASTICIO_POST_RESULT_URL`.

`settings.py` reads and checks the environment, `crypto.py` is the message cipher (AES-256-CBC),
`messages.py` the envelope and headers, `amqp.py` the broker link, `platform_api.py` the platform's
HTTP API, `object_storage.py` the bodies of lightweight messages, `verify.py` the per-service credential
probes, `fields.py` the step fields in component.json and `select_models.py` the select lists behind them.
"""
