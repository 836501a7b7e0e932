"""IoT Jobs over MQTT: the device side of the jobs data plane (AWS IoT Core's reserved `$aws/things/.../jobs/`
topics), beside the HTTPS transport. `paho-mqtt` is the client (the `mqtt` extra).

- topics: which topic each operation publishes to and which answers it waits for, the payloads, and the
  `rejected` error codes read as the typed errors of the HTTPS API;
- settings: the config (`transport: mqtt`, the broker endpoint, certificate or SigV4 over WebSocket);
- presign: the SigV4-presigned WebSocket URL (service `iotdevicegateway`);
- connection: one paho connection, requests correlated with their answers by clientToken, notifications;
- jobs_client: the runtime's entry point, one operation over MQTT with the same inputs and outputs as HTTPS.
"""
