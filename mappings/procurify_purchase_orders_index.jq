# Index of Procurify purchase orders by the PO_REF of the PeopleSoft PO made
# from the same requisition and vendor ("R<requisition>-V<vendor>"), so a
# PeopleSoft voucher can find the Procurify PO to close. Writes nothing: every
# output is a link that only feeds the crosswalk.
#
# Input: a `purchase_orders` document of the Procurify connector.
# Crosswalk fed: procurify_po["R<requisition>-V<vendor>"] = Procurify PO id.
. as $po
| [($po.lines // [])[] | select(.requisition_id != null) | "R\(.requisition_id)-V\($po.vendor.id // .vendor.id)"]
| unique[]
| {key: ., link: ($po.id | tostring), xref: {table: "procurify_po", key: .}}
