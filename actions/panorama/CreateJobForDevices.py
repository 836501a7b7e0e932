"""CreateJobForDevices: start an over-the-air software update (OTA) or a reboot on one Panorama appliance."""

METHOD = "POST"
PATH = "/jobs"
# Not idempotent: the API takes no client token, so a repeat could start a second job on the device
# (or be refused with ConflictException while the first one runs).
IDEMPOTENT = False
# After an answer that never came, look with this action (was a new job created for the device?)
# before trying again.
CHECK_WITH = "panorama.ListDevicesJobs"
EXAMPLE = {
    "DeviceIds": ["device-4tafxulb5ywrwo6yqpwjqx4kwm"],
    "JobType": "OTA",
    "DeviceJobConfig": {"OTAJobConfig": {"ImageVersion": "4.3.55", "AllowMajorVersionUpdate": False}},
}
NOTES = """\
AWS ended support for Panorama on 2026-05-31: when the endpoint can no longer be resolved or reached,
the step fails with ServiceRetired (not retried) instead of a bare DNS error.

One device per job: DeviceIds holds exactly one device ID. An OTA job needs
DeviceJobConfig.OTAJobConfig.ImageVersion; set AllowMajorVersionUpdate to true to cross a major version.
A REBOOT job takes no configuration.

Follow the job with panorama.DescribeDeviceJob, using Jobs[0].JobId from the answer:
  jobs-connector run panorama.CreateJobForDevices --input @job.json | jq '{JobId: .Jobs[0].JobId}' \\
    | jobs-connector run panorama.DescribeDeviceJob --input -
"""
