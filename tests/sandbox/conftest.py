from tests.sandbox.ec2_fixtures import aws_env, ec2, ec2_clock

__all__ = ["aws_env", "ec2", "ec2_clock"]

# The whole-sandbox fixture (session, runtime, endpoint tests).
from tests.sandbox.sandbox_fixtures import sandbox

__all__ += ["sandbox"]
