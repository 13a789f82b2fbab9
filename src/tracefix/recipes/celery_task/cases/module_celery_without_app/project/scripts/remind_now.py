"""Send the reminders in this process, for when the worker is down."""
from proj.celery_app import celery
from proj.tasks import send_invoice_reminders

if __name__ == "__main__":
    celery.conf.task_always_eager = True
    celery.conf.task_eager_propagates = True
    print(f"{send_invoice_reminders.delay().get()} reminders sent")
