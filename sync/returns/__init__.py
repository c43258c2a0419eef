"""Returns: a customer's request decided by policy, the return label, the parcel back,
inspection and restock, then the refund (on its evidence) or the exchange parcel.

One module per operation: merchant.py (one merchant's returns settings), requests.py
(requests from every door, overrides, closing), storefront_in.py (the storefront's
return events), labels.py (the return label), parcels.py (the return parcel's tracking),
inspection.py (received and inspected; stock back through the ledger), refunds.py (the
refund once, on its evidence), exchanges.py (the exchange parcel), desk.py (what people
list, read and decide); common.py holds what they share. Every outside write goes
through the effects ledger.
"""
