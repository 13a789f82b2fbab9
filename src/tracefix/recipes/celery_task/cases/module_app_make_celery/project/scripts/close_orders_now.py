"""Close stale orders now, in this process, instead of waiting for the worker."""
from shop.tasks import close_stale_orders

if __name__ == "__main__":
    result = close_stale_orders.apply()
    print(f"closed {result.get()} orders")
