"""Print the sign-up report: python -m scripts.report --limit 5"""
import argparse
import os

from app import create_app
from app.services.reports import signup_report


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=10)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()

    app = create_app(os.getenv("FLASK_CONFIG") or "default")
    with app.app_context():
        # The report reads the database.
        print(signup_report(limit=args.limit))
