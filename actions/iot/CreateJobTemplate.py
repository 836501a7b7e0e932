"""CreateJobTemplate: keep a job's document and configuration as a template to create jobs from."""

METHOD = "PUT"
PATH = "/job-templates/{jobTemplateId}"
# Not idempotent: no clientToken in the model; a repeat is refused with ConflictException
# (the jobTemplateId exists) once the first call went through.
IDEMPOTENT = False
# After an answer that never came, look with this action (is the jobTemplateId listed?) before trying again.
CHECK_WITH = "iot.ListJobTemplates"

EXAMPLE = {
    "jobTemplateId": "firmware-install",
    "description": "install a firmware build",
    "document": "{\"operation\": \"install\", \"firmware\": \"${aws:iot:parameter:version}\"}",
    "timeoutConfig": {"inProgressTimeoutInMinutes": 30},
}
