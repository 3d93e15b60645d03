"""Code that runs inside the deployed system (init containers, Lambdas, jobs).

Nothing here imports Pulumi: it ships to Lambda and containers, where only boto3 and model-signing are present.
"""
