# Approved Procurify requisition -> PeopleSoft purchase orders (CI PO_EXPRESS),
# one PO per vendor of the requisition.
#
# Input: an `approved_requisitions` document of the Procurify connector
#   {id, modified, required_by, currency{code}, lines: [{id, name, sku, unit,
#    quantity, unit_price, currency{code}, vendor{id, name, external_id},
#    account{code}, department{id, name, external_id}, approved_at}]}.
# Output: a `purchase_orders` document of the PeopleSoft connector, keyed by
# PO_REF "R<requisition>-V<vendor>" (the idempotency key the connector finds
# POs by). Quantities and prices pass through as exact decimal strings.
#
# Every reference goes through a crosswalk; a missing one parks the
# requisition with the reason until the reference flow supplies it:
#   vendor[<procurify vendor id>]         -> VENDOR_ID
#   account[<account code>]               -> ACCOUNT
#   department[<procurify department id>] -> DEPTID
# Crosswalk fed: ps_po[PO_REF] = PO_ID (vouchers find their Procurify PO by it).
def unit_of_measure: (($config.units // {})[.] // (. // "EA" | ascii_upcase | .[0:3]));
def day: if . == null then null else .[0:10] end;

. as $req
| ($req.lines // []) as $all
| if ($all | length) == 0 then error("requisition \($req.id) has no lines") else . end
| $all
| map(if .vendor == null
      then park("line \(.id) of requisition \($req.id) has no vendor in Procurify yet")
      else . end)
| group_by(.vendor.id)[]
| . as $lines
| $lines[0].vendor as $vendor
| ([$lines[].currency.code // $req.currency.code] | unique) as $currencies
| if ($currencies | length) > 1
  then error("requisition \($req.id): lines of vendor \($vendor.id) use several currencies \($currencies); a PeopleSoft PO has one")
  else . end
| "R\($req.id)-V\($vendor.id)" as $ref
| {
    key: $ref,
    body: {
      po_ref: $ref,
      business_unit: $config.business_unit,
      vendor_setid: $config.setid,
      vendor_id: xref("vendor"; $vendor.id),
      po_date: ([$lines[].approved_at // $req.modified] | max | day),
      buyer_id: $config.buyer_id,
      currency: $currencies[0],
      lines: [
        $lines | to_entries[] | .key as $i | .value as $line
        | ($line.department // park("line \($line.id) of requisition \($req.id) has no cost center (department)")) as $dept
        | {
            line_nbr: ($i + 1),
            description: ($line.name | .[0:254]),
            unit_of_measure: ($line.unit | unit_of_measure),
            inv_item_id: null,
            category_id: null,
            schedules: [{
              sched_nbr: 1,
              quantity: $line.quantity,
              price: $line.unit_price,
              due_date: ($req.required_by | day),
              shipto_id: null,
              distributions: [{
                distrib_line_num: 1,
                quantity: $line.quantity,
                account: xref("account"; ($line.account.code // park("line \($line.id) of requisition \($req.id) has no account code"))),
                deptid: xref("department"; $dept.id),
                business_unit_gl: $config.business_unit
              }]
            }]
          }
      ]
    },
    xref: {table: "ps_po", key: $ref}
  }
