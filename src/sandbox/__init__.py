"""Offline stand-in for the AWS services the custom resource talks to.

EC2 (moto plus our model of the replace-root-volume API), EventBridge and Lambda (moto plus the limits
AWS enforces), CloudFormation's ResponseURL (a local HTTPS endpoint), and the way Lambda and EventBridge
invoke the function, all in virtual time. Never deployed: it lives outside src/handler/.
"""
