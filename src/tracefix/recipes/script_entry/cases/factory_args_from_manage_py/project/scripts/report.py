"""Print the sign-up report: python -m scripts.report --limit 5"""
import argparse

from app.services.reports import signup_report


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=10)
    return parser.parse_args()


if __name__ == "__main__":
    args = parse_args()

    # The report reads the database.
    print(signup_report(limit=args.limit))
