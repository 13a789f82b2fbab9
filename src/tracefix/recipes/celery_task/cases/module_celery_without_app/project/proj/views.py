from proj.tasks import send_invoice_reminders
from proj.web import app


@app.post("/reminders")
def remind():
    result = send_invoice_reminders.delay()
    return {"task_id": result.id}, 202
