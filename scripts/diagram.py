"""img/architecture.png, drawn from code with the `diagrams` package (`make diagram`)."""

from pathlib import Path

from diagrams import Cluster, Diagram, Edge
from diagrams.aws.analytics import Athena, Glue, KinesisDataFirehose
from diagrams.aws.compute import Lambda
from diagrams.aws.database import Dynamodb
from diagrams.aws.integration import SNS, SQS, EventbridgeScheduler, StepFunctions
from diagrams.aws.network import APIGateway
from diagrams.aws.storage import S3
from diagrams.onprem.client import Users

OUT = Path(__file__).parents[1] / "img" / "architecture"

with Diagram("Stock Update Pipeline", filename=str(OUT), outformat="png", show=False, direction="LR"):
    producers = Users("KDG / loadgen")
    uploads = Users("stock file uploads")
    with Cluster("ingestion"):
        firehose = KinesisDataFirehose("Firehose\n(GZIP, newline)")
        bucket = S3("data bucket\nraw/ inventory_files/ ...")
        queue = SQS("ingest queue\n(+ DLQ)")
        ingest = Lambda("ingest\n(batch, partial failures)")
    with Cluster("stock"):
        table = Dynamodb("single table\n(stream on)")
        lake = S3("Parquet lake\ncurated/")
        catalog = Glue("Glue catalog\n(partition projection)")
        athena = Athena("Athena")
    with Cluster("alerts"):
        alerts = Lambda("alerts\n(edge-triggered)")
        topic = SNS("restock topic\n-> e-mail")
        workflow = StepFunctions("re-evaluate\nthresholds")
    with Cluster("nightly validation"):
        schedule = EventbridgeScheduler("03:00 UTC")
        validation = StepFunctions("validate\n(loop, cursor)")
        checker = Lambda("check until\nbudget spent")
        report_topic = SNS("validation topic\n-> e-mail")
    with Cluster("reports"):
        api = APIGateway("HTTP API\n(IAM)")
        reports = Lambda("reports")

    producers >> firehose >> bucket
    uploads >> bucket
    bucket >> Edge(label="ObjectCreated") >> queue >> ingest
    ingest >> table
    ingest >> lake >> catalog >> athena
    table >> Edge(label="stream") >> alerts >> topic
    workflow >> topic
    schedule >> validation >> checker
    checker >> Edge(label="files, ledger, levels") >> table
    checker >> Edge(label="reports/validation/") >> bucket
    checker >> report_topic
    api >> reports >> table
