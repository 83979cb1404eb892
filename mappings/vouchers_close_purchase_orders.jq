# PeopleSoft voucher (AP invoice) -> close the matching Procurify purchase
# order, once the voucher is fully matched (MATCH_STATUS_VCHR = "M").
#
# Input: a `vouchers` document of the PeopleSoft connector
#   {business_unit, voucher_id, match_status_vchr, lines: [{po_id, ...}]}.
# The PeopleSoft PO_ID leads to its PO_REF (crosswalk ps_po, fed when the PO
# was created) and the PO_REF to the Procurify PO (crosswalk procurify_po).
# A matched voucher whose Procurify PO is not known yet parks until it is.
# Output: a `purchase_order_closures` document of the Procurify connector.
. as $v
| if $v.match_status_vchr != "M" then
    {key: "voucher-\($v.business_unit)-\($v.voucher_id)", skip: "voucher \($v.voucher_id) is not fully matched (\($v.match_status_vchr))"}
  else
    [$v.lines[].po_id | select(. != null and . != "")] | unique[]
    | . as $po_id
    | (xref_rev("ps_po"; $po_id)) as $ref
    | if $ref == null then
        {key: "voucher-\($v.voucher_id)-po-\($po_id)", skip: "PeopleSoft PO \($po_id) was not created by ml-connector"}
      else
        xref("procurify_po"; $ref) as $procurify
        | {key: "close-\($procurify)", body: {purchase_order: ($procurify | tonumber), source: "PeopleSoft voucher \($v.business_unit)/\($v.voucher_id) for PO \($po_id)"}}
      end
  end
