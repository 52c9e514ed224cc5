"""Custom::RootVolumeReplacement: the resource's logic, independent of how Lambda and crhelper call it.

properties   parse ResourceProperties, once, strictly, into a ReplacementRequest
ec2          every EC2 call the resource makes, and the translation of EC2's errors
rules        plain decisions: what an Update means, how long to wait, what to report
waiting      the describe loop inside one invocation
actions      Create, Update, Delete and their polls, built from the three above
crhelper_adapter   crhelper 2.0.12 with each known defect answered
response_sender    the PUT to CloudFormation's ResponseURL
logs         Powertools logging with the ResponseURL redacted
"""
